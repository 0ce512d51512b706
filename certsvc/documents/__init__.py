"""The documents: the electronic title certificate and result notice, their canonical record,
the QR token, the rendered page and the PAdES signature."""
