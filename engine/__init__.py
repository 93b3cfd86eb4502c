"""Loket's runtime: routes, cases, deadlines and their history. Imports neither Flask nor web/."""
