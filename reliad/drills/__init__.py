"""Recovery drills (R11-R13): a real, timed recovery of a policy's newest backup into a standby
location, proven complete file by file, graded PASS / FAIL / NOT_VERIFIED against the
recovery-time and completeness objectives, recorded in the ledger and repeated on a schedule.

This wing only calls downward (repository, jobs, sources, catalog, ledger); nothing below
imports it. `engine.run_drill` runs one drill; `grading` holds the pure rules that turn what
was measured into a verdict; `status` says whether a policy is VERIFIED today.
"""
