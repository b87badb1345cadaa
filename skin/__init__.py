"""Code shared by every service: identity, settings, logging, gRPC plumbing, generated protos."""
