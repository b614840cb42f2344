"""Serving: a TF Serving client (REST and gRPC) that turns a photo into a mesh."""
