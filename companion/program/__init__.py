"""The program's rhythm and its success: programs and cycles with milestones, the check-in cadence of
each pair and the pairs at risk, goal outcomes, mentor recognition, participant surveys, e-mail nudges,
private calendar feeds, and the figures of the success dashboard."""
