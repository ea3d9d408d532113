-- Baseline: a state with the standard libraries and nothing else.
return 0
