"""Where numbers come from: source manifests and the readers for their files."""
