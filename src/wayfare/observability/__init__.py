"""What an operator watches a running Wayfare by: log lines (``logs.py``), Prometheus
metrics (``metrics.py``, shared by every process of a server through ``shared_dir.py``)."""
