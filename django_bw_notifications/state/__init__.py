"""The state the notifications describe: the order book and the number inventory.

:mod:`.models` (the rows), :mod:`.transitions` (which notification moves a number where:
the one table), :mod:`.book` (keeping both inside the dispatch transaction, deciding
what is news) and :mod:`.rebuild` (recomputing them from the stored notifications).
"""
