"""The credentials domain: an instance's extra credentials (one more database user each,
made by a bind operation and removed by an unbind), for the REST routes and the broker's
bindings."""
