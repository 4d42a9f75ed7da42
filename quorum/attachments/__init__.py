"""Attachments: files on proposals, kept in the blob store (quorum/storage), streamed
both ways, capped in size and in type, announced on the event's stream."""
