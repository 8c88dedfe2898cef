"""The Monte Carlo engine: counter-based random streams, numba kernels, numpy reference.

- :mod:`vbsim.engine.rng`: counter-based uniforms and normals (numba and numpy twins).
- :mod:`vbsim.engine.kernel`: the numba kernel, parallel over scenarios, members in blocks.
- :mod:`vbsim.engine.reference`: the plain-numpy implementation of the same model (the
  executable specification and the speed baseline).

Users call :func:`vbsim.simulate.simulate`; see ``docs/engine.md`` for the model.
"""

ENGINE_VERSION = "2"  # 2: one word per member-year, 32-bit normals, Spliced table, dynamics

#: Columns of the per-(scenario, year, cohort) statistics array both engines fill.
STATS = ("member_months", "cost", "risk_months", "deaths", "members_start", "new_members",
         "leavers")
