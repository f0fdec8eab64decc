"""The pieces of the fetcher. Import from syncing.fetcher, the one way out to the network."""
