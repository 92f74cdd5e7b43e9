"""Ground truth about a dom0 without xapi: files, the kernel's view of the
management bridge, the xapi process, and TCP probes of the peers.

    access = LocalAccess("/") | SimulatedAccess(root) | SshAccess(paramiko_client)
    truth = gather.gather_ground_truth(access, port_for=..., probe_timeout=1.0)

Modules: access (how files/commands are reached), pool_conf, inventory,
statedb (+ statedb_types), db_copy (a database copy's generation and age),
iplink, xapi_process, probes (parsers and checks, one job each), gather (puts
them together, never raises), facts (the contract).
"""
