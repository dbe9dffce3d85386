"""The operations reliad performs, one module each: backup, restore, verify, rebuild."""
