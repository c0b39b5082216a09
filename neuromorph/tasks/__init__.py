"""Experiments and demos that the ``neuromorph`` command runs (online vs BPTT, CartPole, STDP features).

They are built from the library's reusable parts and are not imported by it: nothing under
``neuromorph/`` outside ``tasks/`` and ``cli/`` depends on this package.
"""
