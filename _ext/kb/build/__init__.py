"""How the site is built: the need layout function, incremental rebuilds that stay correct,
and hygiene (required programs, safe links, memory), and no work on the needs in a build that
changed nothing."""
