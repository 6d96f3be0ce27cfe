"""SSH: the only sub-package that loads paramiko, invoke and Fabric.

``connection`` (FabricPlusConnection), ``connector`` (build/open/classify), ``registry`` (one
connection per host per process), ``hostkeys``, ``privilege`` (su/sudo strategies) and
``channel`` (every use of the libraries' private internals).
"""
