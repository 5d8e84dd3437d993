"""docker-compose and Kubernetes manifests for the whole stack, and their lint."""
