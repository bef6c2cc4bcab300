"""Process roles: what an ``api``, a ``worker`` and a ``scheduler`` process start and stop.

Each role is assembled from a :class:`~bifrost.context.Context` and a
:class:`~bifrost.roles.shared.Transport` (the queues and rosters the roles share). ``bifrost up``
runs the three in one process; ``bifrost api``, ``bifrost worker`` and ``bifrost scheduler`` run
one each. Only this package knows how the parts are put together; the parts take the narrow
pieces they use.
"""
