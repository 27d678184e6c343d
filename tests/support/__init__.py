"""Helpers shared by the tests: builders of settings, services and API clients, test documents and
sample people. Test modules import from here, never from each other."""
