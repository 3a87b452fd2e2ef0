"""The intelligence-sharing service (``plumescout serve``): a FastAPI application over one store.

Needs the ``service`` extra (``pip install 'plumescout[service]'``).
"""
