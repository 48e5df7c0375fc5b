"""How the site is built: the need layout function, incremental rebuilds that stay correct,
and hygiene (required programs, safe links, memory)."""
