"""Built-in hashing methods, one module each (installed as ``hashbench.methods``).

Add a method by adding a module here that defines a ``hashbench.method.HashMethod`` subclass with a
``name``; the registry finds it. Third-party packages use the ``hashbench.methods`` entry point.
"""
