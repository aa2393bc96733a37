"""Hydra's basic sweeper, checking every swept value once instead of composing every job twice.

Hydra only loads plugins from the ``hydra_plugins`` namespace, hence this folder beside ``bench/``.
"""
