"""Compliance suites: controls, waivers, scores, gate, baseline and their reports."""
