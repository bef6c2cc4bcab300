"""Code shared by the probes that the security tests run as workflows or build scripts."""

TRY = '''
def _try(action):
    """What the kernel said to an attempt: ALLOWED, or the OSError's class name."""
    try:
        action()
        return "ALLOWED"
    except OSError as exc:
        return type(exc).__name__
'''
