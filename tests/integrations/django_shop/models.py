from __future__ import annotations

from django.db import models

# shop_customer is a view over shop_customer_data that waits 10 ms per row read (tests/integrations/test_django_db.py
# creates both): every lazy ``order.customer`` costs a real, slow query.
SCHEMA = [
    "CREATE TABLE shop_customer_data (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE VIEW shop_customer AS SELECT id, name FROM shop_customer_data WHERE c13_sleep(10) IS NULL",
    "CREATE TABLE shop_order (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL)",
    "INSERT INTO shop_customer_data (id, name) VALUES (1, 'ada'), (2, 'bob'), (3, 'cy'), (4, 'di'), (5, 'ed'),"
    " (6, 'fay')",
    "INSERT INTO shop_order (customer_id) VALUES (1), (2), (3), (4), (5), (6)",
]


class Customer(models.Model):
    name = models.TextField()

    class Meta:
        app_label = "django_shop"
        db_table = "shop_customer"
        managed = False


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.DO_NOTHING, db_constraint=False)

    class Meta:
        app_label = "django_shop"
        db_table = "shop_order"
        managed = False
