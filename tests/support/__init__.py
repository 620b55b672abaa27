"""What the tests share, a module per job (fixtures are in ``conftest.py``; no test file
imports another test file):

* :mod:`.paths`: where the repository's files are; third-party test data (:func:`shared_data`);
* :mod:`.command`: the command line as a subprocess, with the real-IMDS guard loaded;
* :mod:`.drivers`: every driver behind one facade (:class:`Client`), quick settings;
* :mod:`.network`: loopback ports that never answer (a silent listener, a closed port);
* :mod:`.protocol_script`: the protocol driven by a script of answers and a fake clock;
* :mod:`.hooked`: a simulator with test hooks (the fault matrix, the leak tests);
* :mod:`.tally`: the fault matrix's tally, printed after the run by ``conftest.py``;
* :mod:`.raw_server`: a loopback server that answers with bytes;
* :mod:`.recorded`: answers recorded from real instances;
* :mod:`.aemm`: a server that answers as Amazon's mock does where it differs from EC2;
* :mod:`.typecheck`: snippets type-checked as a user's application would be;
* :mod:`.properties`: a property test's example count, scaled down in the fast tier.
"""
