"""`bifrost migrate`: an existing workspace (a directory or an S3 prefix) into the database."""
