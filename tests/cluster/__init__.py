"""cluster - real clusters the tests run jobs on (slurm.py: a single-node
Slurm cluster in a private folder)."""
