"""The control plane: the HTTP/WebSocket API (Quart on quart-trio, served by Hypercorn on the
run's own Trio loop), users and tokens, Prometheus metrics.

Nothing here is imported by a plain run: ``-api_addr``, ``gossipper server`` and ``gossipper
auth`` import it when used, and it needs the ``api`` extra (``pip install 'gossipper[api]'``).
The seams the rest of the product implements are in :mod:`gossipper.api.seams`.
"""
