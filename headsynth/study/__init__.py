"""Studies that train and compare several networks (the paper's variability experiment)."""
