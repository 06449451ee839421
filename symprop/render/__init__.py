"""Renderers: each reads a recorded :class:`~symprop.backprop.BackwardPass`
and writes it in one format. None of them derives anything."""
