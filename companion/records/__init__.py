"""Records: mentees' goals, sessions and notes, and the mentorship rules that decide who may act on whose
records. Uses storage and identity."""
