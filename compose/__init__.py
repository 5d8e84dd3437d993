"""How the stack is deployed: the docker-compose project, and (despite the package's name) the
Kubernetes manifests too (``kubernetes.py`` and the ``k8s_*`` modules), with their lint."""
