"""The long-running service (`reliad run`): scheduling, one worker per repository, signals,
systemd notification. Jobs themselves live in reliad/jobs/; this package only decides when."""
