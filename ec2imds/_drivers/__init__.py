"""The drivers: everything that performs I/O for the IMDSv2 exchange.

The exchange itself (token flow, retries, what each status means) is written once,
without I/O, in :mod:`ec2imds._protocol`; a driver runs its generators, sending the
requests they yield and giving them a clock, locks and sleeps. Like ``httpx/_transports``,
one module per way of doing it:

==================  ===================================================================
``base``            what every driver shares: token sessions per endpoint, counts, ``-v``
``sync``            the blocking loop (:func:`~ec2imds._drivers.sync.drive`), thread locks
``aio``             the asyncio loop (:func:`~ec2imds._drivers.aio.adrive`), asyncio locks
``race``            the endpoint race (RFC 8305), threaded and asyncio
``http11``          a minimal HTTP/1.1 client: a parser without I/O, blocking and
                    non-blocking connections
``default``         :class:`~ec2imds._drivers.default.DefaultDriver`: ``IMDS`` and the
                    command line, over ``http11``
``default_async``   :class:`~ec2imds._drivers.default_async.AsyncDefaultDriver`:
                    ``AsyncIMDS``, over ``http11``'s non-blocking connection
``httpx``           :class:`~ec2imds._drivers.httpx.HttpxDriver` and its async twin, when
                    a client is given an httpx transport
``walk``            the walk drivers: a :class:`~ec2imds.crawl.Walk` over threads or tasks
==================  ===================================================================

Nothing here is public API: the clients (:mod:`ec2imds.client`) choose the driver.
"""
