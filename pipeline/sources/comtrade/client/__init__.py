"""UN Comtrade v1 API client, in layers: ``plan`` (a user's ask -> calls under the record cap and the URL
limit), ``split`` (a full page -> smaller calls), ``session`` (the endpoints over the shared HTTP layer),
``store`` (the page folder) and ``sync`` (a plan executed against the page folder, resumably).

The Dagster resource that opens sessions is ``pipeline.sources.comtrade.resource.ComtradeClient``; nothing here
imports Dagster or the readers.
"""
