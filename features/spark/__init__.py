"""The Spark implementation of the feature transformations (issue 8, in progress).

Every function here mirrors one pandas function of `features` and imports its definitions
(column lists, capacities, vocabularies) from the pandas module, so the two cannot drift apart
silently; tests/spark compares both value for value. pyspark is imported here only: importing
`fti` or `features` never loads it.
"""
