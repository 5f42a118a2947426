"""After a sweep: leaderboard, plots, Weights & Biases logging, and export of the winner."""
