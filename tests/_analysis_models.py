"""Textbook structures for the loop-analysis tests, built with the DSL."""
from sdmodels import Model, delay3, maximum, minimum


def rate_limiting() -> Model:
    """Reference Part 1.3 ex. 1: Requests -> Rejections -> Accepted (inversion) -> Load."""
    m = Model("rate limiting", stop=20, dt=0.25)
    load = m.stock("Load", initial=50, non_negative=True)
    requests = m.aux("Requests", 2 * load)
    rejections = m.aux("Rejections", maximum(0, requests - m.constant("Rate limit", 80)))
    accepted = m.aux("Accepted requests", m.constant("Incoming demand", 120) - rejections)
    m.flow("Admitted", accepted, into=load)
    m.flow("Completed", load / m.constant("Service time", 1), out_of=load)
    return m


def cache_miss_cascade() -> Model:
    """Part 1.3 ex. 2: Misses -> DB queries -> DB latency -> Cache timeouts -> Misses."""
    m = Model("cache miss cascade", stop=20, dt=0.25)
    latency = m.stock("DB latency", initial=0.05, non_negative=True)
    timeouts = m.aux("Cache timeouts", 100 * latency)
    misses = m.aux("Misses", m.constant("Base misses", 10) + timeouts)
    queries = m.aux("DB queries", misses)
    target = m.aux("Target latency", 0.05 + 0.001 * queries)
    m.flow("Latency change", (target - latency) / 5, into=latency)
    return m


def pod_eviction() -> Model:
    """Part 1.3 ex. 3: Memory -> Eviction -> Running pods (inv.) -> Load per pod (inv.)."""
    m = Model("pod eviction", stop=20, dt=0.25)
    pods = m.stock("Running pods", initial=10, non_negative=True)
    per_pod = m.aux("Load per pod", m.constant("Total load", 1000) / pods)
    memory = m.aux("Memory", 4 * per_pod)
    m.flow("Eviction", 0.001 * memory, out_of=pods)
    m.flow("Rescheduling", 0.3, into=pods)
    return m


def sir() -> Model:
    """The SIR model of the conformance suite (samples/SIR/SIR.mdl), same equations."""
    m = Model("SIR", stop=100, dt=0.03125)
    infectivity = m.constant("Contact Infectivity", 0.3)
    duration = m.constant("Duration", 5)
    total = m.constant("Total Population", 1000)
    s = m.stock("Susceptible", initial=total)
    i = m.stock("Infectious", initial=5)
    r = m.stock("Recovered", initial=0)
    m.flow("Succumbing", s * i / total * infectivity, out_of=s, into=i)
    m.flow("Recovering", i / duration, out_of=i, into=r)
    return m


def predator_prey() -> Model:
    """samples/Lotka_Volterra/Lotka_Volterra.mdl, same equations."""
    m = Model("Lotka Volterra", stop=50, dt=0.0625)
    prey = m.stock("Prey", initial=1000)
    pred = m.stock("Predators", initial=20)
    fpr = m.aux("Fractional Predation Rate",
                m.constant("Reference Fractional Predation Rate", 0.2) * pred
                / m.constant("Reference Predators", 20))
    prr = m.aux("Predator Reproduction Ratio",
                m.constant("Reference Predator Reproduction Ratio", 1) * prey
                / m.constant("Reference Prey Population", 1000))
    m.flow("Prey Births", prey * m.constant("Prey Reproduction Ratio", 3), into=prey)
    m.flow("Prey Deaths", prey * fpr, out_of=prey)
    m.flow("Predator Births", pred * prr, into=pred)
    m.flow("Predator Deaths", pred / m.constant("Predator Lifespan", 10), out_of=pred)
    return m


def inventory(order_delay: float = 4.0) -> Model:
    """Stock management with a third-order supply-line delay between orders and arrivals."""
    m = Model("inventory", stop=60, dt=0.125)
    inv = m.stock("Inventory", initial=100, non_negative=True)
    demand = m.constant("Demand", 10)
    orders = m.aux("Orders", maximum(0, demand + (m.constant("Desired inventory", 100) - inv)
                                     / m.constant("Adjustment time", 8)))
    m.flow("Arrivals", delay3(orders, order_delay), into=inv)
    m.flow("Shipments", minimum(inv, demand), out_of=inv)
    m.name_loop("Stock control", ["Inventory", "Orders"])
    return m


def service() -> Model:
    """A service with a queue: a module for the composition tests."""
    svc = Model("service", stop=10, dt=0.125)
    arrival = svc.constant("Arrival rate", 80)
    capacity = svc.constant("Capacity", 100)
    q = svc.stock("Queue", initial=0, non_negative=True)
    svc.flow("Arrivals", arrival, into=q)
    svc.flow("Served", minimum(q, capacity), out_of=q)
    svc.aux("Latency", q / capacity)
    return svc


def composed() -> Model:
    """Retries at the top level feed a backend module: a loop that only composition makes."""
    m = Model("system", stop=10, dt=0.125)
    backend = m.module("backend", service(), inputs={"Arrival rate": "Base load + Retry rate"},
                       display="Backend")
    m.constant("Base load", 80)
    m.aux("Retry rate", 20 * backend["Latency"])
    m.name_loop("Retry storm", ["Retry rate", "Backend / Queue"])
    return m
