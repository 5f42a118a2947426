"""Running sweeps on a Ray cluster: attaching by address, Ray Jobs submission, cluster configs."""
