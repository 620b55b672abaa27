"""The drivers: everything that performs I/O for the IMDSv2 exchange.

The exchange itself (token flow, retries, what each status means) is written once,
without I/O, in :mod:`ec2imds._protocol`; a driver runs its flows with the runners of
:mod:`ec2imds._flow`, sending the requests they yield, and gives them a clock and locks.
Like ``httpx/_transports``, one module per way of doing it:

==================  ===================================================================
``base``            what every driver shares: token sessions per endpoint, counts, ``-v``
``sync``            the blocking driver (:func:`~ec2imds._flow.run`), thread locks
``aio``             the asyncio driver (:func:`~ec2imds._flow.arun`), asyncio locks
``race``            the endpoint race (RFC 8305), a flow: a fan-out that takes the first
``http11``          a minimal HTTP/1.1 client: a parser without I/O, blocking and
                    non-blocking connections
``default``         :class:`~ec2imds._drivers.default.DefaultDriver`: ``IMDS`` and the
                    command line, over ``http11``
``default_async``   :class:`~ec2imds._drivers.default_async.AsyncDefaultDriver`:
                    ``AsyncIMDS``, over ``http11``'s non-blocking connection
``httpx``           :class:`~ec2imds._drivers.httpx.HttpxDriver` and its async twin, when
                    a client is given an httpx transport
==================  ===================================================================

Nothing here is public API: the clients (:mod:`ec2imds.client`) choose the driver.
"""
