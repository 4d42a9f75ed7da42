"""The blob store: files kept outside the database (attachments, reports).

A local directory under the data dir by default, any S3-compatible store by
configuration (``QUORUM_STORAGE_URL=s3://bucket/prefix``). Both go through obstore
(quorum/storage/store.py says why), streamed in chunks both ways.
"""
