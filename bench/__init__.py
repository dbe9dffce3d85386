"""Benchmark of reliad against restic, BorgBackup and `tar | zstd` (see README, "Benchmark")."""
