"""Live following: log files followed by inode through rotations, their new lines indexed in
small batches that release the index in between, so that readers get in."""
