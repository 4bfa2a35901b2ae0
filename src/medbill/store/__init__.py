"""The practice database: models, keys, encryption, repositories, audit log."""
