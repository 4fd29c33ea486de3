from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from .models import Customer, Order


def order_customers(request: HttpRequest) -> JsonResponse:
    names = []
    for order in Order.objects.order_by("id"):
        names.append(order.customer.name)  # N+1: one customer query per order
    return JsonResponse({"customers": names})


async def async_order_count(request: HttpRequest) -> JsonResponse:
    ids = [order.customer_id async for order in Order.objects.order_by("id")]
    return JsonResponse({"orders": len(ids), "customers": await Customer.objects.filter(id__in=ids).acount()})


urlpatterns = [
    path("orders/customers/", order_customers),
    path("async/orders/", async_order_count),
]
