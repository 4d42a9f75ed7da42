"""A restaurant's admin screen that receives its store's orders live, built on
``quorum.realtime`` (and ``quorum.db``) alone: see README.md in this folder."""
