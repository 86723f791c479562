"""Photos and files 照片与附件: uploaded once, sniffed, cleaned and thumbnailed, kept behind one storage interface,
attached by id to tickets and findings, served through signed expiring links."""
