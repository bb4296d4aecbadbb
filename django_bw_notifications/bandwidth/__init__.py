"""Talking to Bandwidth: the Numbers API client and what is built on it.

:mod:`.client` (HTTP, the ``client`` extra) and :mod:`.answers` (reading its XML answers),
:mod:`.subscriptions` (planning subscriptions that deliver here), :mod:`.reconcile`
(recovering states a lost delivery carried), and :mod:`.bodies` (writing notification
bodies as Bandwidth does, for the send command and the test helpers). Importing this
package imports nothing from the client.
"""
