"""`kubelite up` / `kubelite down`: a whole local cluster (server + real nodes) in one process."""
